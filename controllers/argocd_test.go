package controllers_test

import (
	"os"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// The Argo CD health checks shipped in config/argocd, run with gopher-lua as Argo CD runs them:
// the object as a Lua table in the global obj, the script's returned table read for status and
// message.

var argoChecks = sync.OnceValues(func() (map[string]string, error) {
	data, err := os.ReadFile("../config/argocd/argocd-cm.yaml")
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(data, &cm); err != nil {
		return nil, err
	}
	return cm.Data, nil
})

// argoHealth is Argo CD's health of an object, from the check for its kind.
func argoHealth(u *unstructured.Unstructured) (health, message string) {
	checks, err := argoChecks()
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	script, ok := checks["resource.customizations.health."+u.GroupVersionKind().Group+"_"+u.GetKind()]
	ExpectWithOffset(1, ok).To(BeTrue(), "no health check for %s", u.GetKind())
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, u.Object))
	ExpectWithOffset(1, L.DoString(script)).To(Succeed())
	hs, ok := L.Get(-1).(*lua.LTable)
	ExpectWithOffset(1, ok).To(BeTrue(), "the health check returns a table")
	return hs.RawGetString("status").String(), hs.RawGetString("message").String()
}

// toLua converts a decoded JSON value as Argo CD does: objects and arrays become tables (arrays
// indexed from 1), numbers Lua numbers.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	Fail("a value of an unexpected type in an object")
	return lua.LNil
}

// argoAgrees checks that Argo CD's health of an object says what kstatus says of it (Suspended
// for a suspended one), with a message, and returns it.
func argoAgrees(u *unstructured.Unstructured, s status.Status) string {
	health, message := argoHealth(u)
	want := map[status.Status]string{status.CurrentStatus: "Healthy", status.InProgressStatus: "Progressing",
		status.FailedStatus: "Degraded"}[s]
	if suspend, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend"); suspend {
		want = "Suspended"
	}
	ExpectWithOffset(2, health).To(Equal(want), "Argo CD's health of %s %s, where kstatus says %s", u.GetKind(), u.GetName(), s)
	ExpectWithOffset(2, message).NotTo(BeEmpty())
	return health
}
