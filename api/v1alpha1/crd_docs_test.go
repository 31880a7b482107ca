package v1alpha1_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/internal/testenv"
)

// Every property of the generated CRD schemas has a description, so that `kubectl explain`
// tells users what each field means.
func TestEveryCRDPropertyHasADescription(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated CRDs found (run make manifests): %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Fatalf("%s %s has no schema", crd.Name, v.Name)
			}
			var missing []string
			walkSchema(crd.Spec.Names.Kind, *v.Schema.OpenAPIV3Schema, &missing)
			sort.Strings(missing)
			for _, m := range missing {
				t.Errorf("%s: %s has no description", crd.Name, m)
			}
			if count := countProperties(*v.Schema.OpenAPIV3Schema); count < 20 {
				t.Errorf("%s: only %d properties walked; the walk is broken", crd.Name, count)
			}
		}
	}
}

func walkSchema(path string, s apiextensionsv1.JSONSchemaProps, missing *[]string) {
	root := !strings.Contains(path, ".")
	for name, p := range s.Properties {
		child := path + "." + name
		if root && name == "metadata" {
			continue // ObjectMeta: Kubernetes documents it, and the CRD schema may not
		}
		if p.Description == "" {
			*missing = append(*missing, child)
		}
		walkSchema(child, p, missing)
	}
	if s.Items != nil && s.Items.Schema != nil {
		walkSchema(path+"[]", *s.Items.Schema, missing)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		walkSchema(path+"{}", *s.AdditionalProperties.Schema, missing)
	}
}

func countProperties(s apiextensionsv1.JSONSchemaProps) int {
	n := len(s.Properties)
	for _, p := range s.Properties {
		n += countProperties(p)
	}
	if s.Items != nil && s.Items.Schema != nil {
		n += countProperties(*s.Items.Schema)
	}
	return n
}
