// Package controllers holds the SurveyCampaign and FollowUp reconcilers. They orchestrate:
// the domain logic (schedules, scoring, audiences) lives in internal/ packages.
//
// The RBAC markers below are the manager's permissions; `make manifests` turns them into
// config/rbac/role.yaml. Each reconciler adds the markers for what it uses.
//
// +kubebuilder:rbac:groups=surveys.surveyops.io,resources=surveycampaigns;followups,verbs=get;list;watch
// +kubebuilder:rbac:groups=surveys.surveyops.io,resources=surveycampaigns/status;followups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
package controllers
