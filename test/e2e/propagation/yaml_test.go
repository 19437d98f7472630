package propagation_test

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func yamlToUnstructured(s string, u *unstructured.Unstructured) error {
	return yaml.Unmarshal([]byte(s), &u.Object)
}
