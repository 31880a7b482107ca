package responseapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/surveyops/survey-operator/internal/apitoken"
)

// Auth is how a caller of a route proves who it is.
type Auth int

const (
	// Bearer routes need an API credential: a master token (the manager's), or a sender's or
	// a reader's credential derived from one (apitoken.Credential), as Callers admit.
	Bearer Auth = iota
	// Signed routes carry an HMAC of their body under a key the caller was given (channel
	// gateways, helpdesks): see SignatureHeader.
	Signed
)

// CredentialHeader carries a Bearer route's credential where the Authorization header cannot:
// through the Kubernetes API server's service proxy, which takes Authorization for itself and
// removes it before it passes a request on (kubectl survey export and forget go that way). The
// server reads it before Authorization; it holds the credential alone, without "Bearer ".
const CredentialHeader = "X-Survey-Credential"

// Route is one endpoint of the API: the mux registers Pattern, the client calls Path.
type Route struct {
	Method string
	// Template is the path with {name} wildcards, as net/http's ServeMux reads them.
	Template string
	Auth     Auth
	// Callers are the kinds of bearer credential a Bearer route admits (apitoken): a sender's
	// or a reader's only for its own namespace's data.
	Callers []apitoken.Kind
}

// Allows reports whether a kind of credential may call the route.
func (r Route) Allows(k apitoken.Kind) bool { return slices.Contains(r.Callers, k) }

// Who calls what.
var (
	managerOnly = []apitoken.Kind{apitoken.Manager}
	senders     = []apitoken.Kind{apitoken.Manager, apitoken.Sender}
	readers     = []apitoken.Kind{apitoken.Manager, apitoken.Reader}
	exporters   = []apitoken.Kind{apitoken.Manager, apitoken.Exporter}
	erasers     = []apitoken.Kind{apitoken.Manager, apitoken.Eraser}
	producers   = []apitoken.Kind{apitoken.Manager, apitoken.Events}
)

// The API's routes. Each is registered once by the server and called by the client through
// the same value, so the two cannot drift apart.
var (
	RoutePutWave = Route{http.MethodPut, "/api/v1/waves/{campaign}/{wave}", Bearer, managerOnly}
	RouteSummary = Route{http.MethodGet, "/api/v1/waves/{campaign}/{wave}/summary", Bearer, readers}
	// RouteExport streams a wave's responses, one row per respondent under a pseudonym, as CSV
	// or JSON Lines (?format=csv|jsonl).
	RouteExport     = Route{http.MethodGet, "/api/v1/waves/{campaign}/{wave}/export", Bearer, exporters}
	RouteFrame      = Route{http.MethodPut, "/api/v1/waves/{campaign}/{wave}/frame/{shard}", Bearer, senders}
	RouteReserve    = Route{http.MethodPost, "/api/v1/ledger/reserve", Bearer, senders}
	RouteMark       = Route{http.MethodPost, "/api/v1/ledger/mark", Bearer, senders}
	RouteMarks      = Route{http.MethodPost, "/api/v1/ledger/marks", Bearer, senders}
	RouteContacted  = Route{http.MethodPost, "/api/v1/ledger/contacted", Bearer, senders}
	RouteUnanswered = Route{http.MethodPost, "/api/v1/ledger/unanswered", Bearer, senders}
	RouteOptedOut   = Route{http.MethodPost, "/api/v1/ledger/opted-out", Bearer, senders}
	RouteSuppressed = Route{http.MethodPost, "/api/v1/ledger/suppressed", Bearer, senders}
	// RouteErase erases every record of one person in a namespace (ErasureRequest).
	RouteErase = Route{http.MethodPost, "/api/v1/namespaces/{namespace}/erasures", Bearer, erasers}
	// RouteEvents takes touch-point events for a namespace: CloudEvents 1.0 in binary,
	// structured or batched mode (internal/touchpoint), answered 202 with EventsAccepted once
	// they are stored.
	RouteEvents = Route{http.MethodPost, "/api/v1/namespaces/{namespace}/events", Bearer, producers}
	// RoutePutRetention registers a campaign's retention (spec.retention).
	// The touch-point campaigns' routes (docs/touchpoints.md): the manager registers which events
	// a campaign takes; it and the campaign's sending Jobs ask what is due, and the Jobs record
	// what they decided about each event with the invitations it made.
	RoutePutTouchPoints = Route{http.MethodPut, "/api/v1/campaigns/{campaign}/touchpoints", Bearer, managerOnly}
	RouteDueTouchPoints = Route{http.MethodGet, "/api/v1/namespaces/{namespace}/touchpoints/{campaign}/due", Bearer, senders}
	RouteDueEvents      = Route{http.MethodGet, "/api/v1/namespaces/{namespace}/touchpoints/{campaign}/events", Bearer, senders}
	RouteDecide         = Route{http.MethodPost, "/api/v1/namespaces/{namespace}/touchpoints/{campaign}/decisions", Bearer, senders}
	RouteEventPeople    = Route{http.MethodPost, "/api/v1/namespaces/{namespace}/touchpoints/{campaign}/people", Bearer, senders}
	RouteWavePeople     = Route{http.MethodGet, "/api/v1/namespaces/{namespace}/touchpoints/{campaign}/waves/{wave}/people", Bearer, senders}

	RoutePutRetention   = Route{http.MethodPut, "/api/v1/campaigns/{campaign}/retention", Bearer, managerOnly}
	RoutePutFollowUp    = Route{http.MethodPut, "/api/v1/followups/{uid}", Bearer, managerOnly}
	RouteDeleteFollowUp = Route{http.MethodDelete, "/api/v1/followups/{uid}", Bearer, managerOnly}
	RouteSweepFollowUp  = Route{http.MethodPost, "/api/v1/followups/{uid}/sweep", Bearer, managerOnly}
	RouteFollowUpStats  = Route{http.MethodGet, "/api/v1/followups/{uid}/stats", Bearer, readers}
	RouteCases          = Route{http.MethodGet, "/api/v1/followups/{uid}/cases", Bearer, senders}
	RouteCasesContacted = Route{http.MethodPost, "/api/v1/followups/{uid}/contacted", Bearer, senders}
	// RouteMailReport takes a mail server's delivery status notification (RFC 3464), as it
	// arrived: the raw message is the body.
	RouteMailReport = Route{http.MethodPost, "/api/v1/deliveries/mail", Bearer, senders}

	RouteInbound      = Route{http.MethodPost, "/api/v1/responses", Signed, nil}
	RouteCaseCallback = Route{http.MethodPost, "/api/v1/cases/resolve", Signed, nil}
	RouteDelivery     = Route{http.MethodPost, "/api/v1/deliveries", Signed, nil}
)

// Routes lists every API route.
var Routes = []Route{
	RoutePutWave, RouteSummary, RouteExport, RouteFrame,
	RouteReserve, RouteMark, RouteMarks, RouteContacted, RouteUnanswered, RouteOptedOut, RouteSuppressed,
	RouteErase, RouteEvents, RoutePutTouchPoints, RouteDueTouchPoints, RouteDueEvents, RouteDecide, RouteEventPeople, RouteWavePeople, RoutePutRetention, RoutePutFollowUp, RouteDeleteFollowUp, RouteSweepFollowUp, RouteFollowUpStats, RouteCases, RouteCasesContacted, RouteMailReport,
	RouteInbound, RouteCaseCallback, RouteDelivery,
}

// Pattern is the route as net/http's ServeMux registers it: "PUT /api/v1/waves/{campaign}/{wave}".
func (r Route) Pattern() string { return r.Method + " " + r.Template }

// Path fills the route's wildcards, in order, with the values given (escaped). It panics when
// the count differs: that is a programming error, not an input error.
func (r Route) Path(values ...string) string {
	var b strings.Builder
	rest, used := r.Template, 0
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if used == len(values) || end < 0 {
			panic(fmt.Sprintf("responseapi: %s needs more than %d values", r.Template, len(values)))
		}
		b.WriteString(rest[:open])
		b.WriteString(url.PathEscape(values[used]))
		used++
		rest = rest[open+end+1:]
	}
	if used != len(values) {
		panic(fmt.Sprintf("responseapi: %s takes %d values, not %d", r.Template, used, len(values)))
	}
	b.WriteString(rest)
	return b.String()
}
