package controllers

import (
	"context"
	"fmt"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// retentionOf is a campaign's spec.retention as the response service registers it; without
// one, everything is kept (registered too, so that removing spec.retention takes effect).
func retentionOf(c *v1alpha1.SurveyCampaign) responseapi.RetentionRegistration {
	reg := responseapi.RetentionRegistration{Namespace: c.Namespace}
	if r := c.Spec.Retention; r != nil {
		reg.Responses, reg.Invitations, reg.Keep = string(r.Responses), string(r.Invitations), string(r.Keep)
	}
	return reg
}

// registerRetention registers the campaign's retention with the response service when it is
// not the one this manager last registered for it: once per campaign after a restart, then
// only when spec.retention changes.
func (u *run) registerRetention(ctx context.Context) error {
	reg := retentionOf(u.c)
	known := fmt.Sprintf("%s/%+v", u.c.UID, reg)
	if last, ok := u.r.retention.get(u.key); ok && last == known {
		return nil
	}
	if err := u.r.Responses.PutRetention(ctx, string(u.c.UID), reg); err != nil {
		return fmt.Errorf("registering the retention with the response service: %w", err)
	}
	u.r.retention.put(u.key, known)
	return nil
}
