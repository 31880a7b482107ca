// Package v1alpha1 contains the API of survey-operator: the SurveyCampaign and FollowUp kinds of
// the surveys.surveyops.io group.
//
// +kubebuilder:object:generate=true
// +groupName=surveys.surveyops.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "surveys.surveyops.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this API with a scheme. It is apimachinery's, so
	// that importing the API needs no controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &SurveyCampaign{}, &SurveyCampaignList{}, &FollowUp{}, &FollowUpList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
