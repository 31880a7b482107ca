//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

var _ = Describe("Touch-point events", func() {
	It("takes CloudEvents from the SDK's client with a namespace's events credential, each event once, and refuses another namespace's", func() {
		ns := fmt.Sprintf("e2e-events-%04d", rand.IntN(10000))
		target := "http://" + clusterIP(system, "survey-operator-collector") + ":8080" + responseapi.RouteEvents.Path(ns)
		credential := apitoken.Credential([]byte(apiToken), apitoken.Events, ns)
		repair := func(id, tenancy string) event.Event {
			e := cloudevents.NewEvent()
			e.SetID(id)
			e.SetSource("https://repairs.riverside.example/jobs")
			e.SetType("uk.org.riverside.repair.completed")
			e.SetTime(time.Now())
			Expect(e.SetData(cloudevents.ApplicationJSON, map[string]any{"tenancy": tenancy, "email": tenancy + "@example.org",
				"repairType": "plumbing", "contractor": "Dyfed Plumbing"})).To(Succeed())
			return e
		}

		By("the SDK's client sends one in binary mode: acknowledged")
		protocol, err := cehttp.New(cehttp.WithTarget(target), cehttp.WithHeader("Authorization", "Bearer "+credential))
		Expect(err).NotTo(HaveOccurred())
		client, err := cloudevents.NewClient(protocol)
		Expect(err).NotTo(HaveOccurred())
		first := repair(fmt.Sprintf("job-%d", rand.Uint64()), "T-000123-01")
		result := client.Send(ctx, first)
		Expect(cloudevents.IsACK(result)).To(BeTrue(), "%v", result)

		By("a batch holding it again and a new one: two events, one new")
		post := func(credential string, events ...event.Event) (int, responseapi.EventsAccepted) {
			req, err := cehttp.NewHTTPRequestFromEvents(ctx, target, events)
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Authorization", "Bearer "+credential)
			resp, err := httpClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			var got responseapi.EventsAccepted
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusAccepted {
				Expect(json.Unmarshal(body, &got)).To(Succeed())
			}
			return resp.StatusCode, got
		}
		status, got := post(credential, first, repair(fmt.Sprintf("job-%d", rand.Uint64()), "T-000124-01"))
		Expect(status).To(Equal(http.StatusAccepted))
		Expect(got).To(Equal(responseapi.EventsAccepted{Events: 2, New: 1}))

		By("another namespace's events credential is refused")
		status, _ = post(apitoken.Credential([]byte(apiToken), apitoken.Events, ns+"-other"), first)
		Expect(status).To(Equal(http.StatusForbidden))
	})
})
