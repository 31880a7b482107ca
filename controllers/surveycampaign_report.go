package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// reports is what is remembered of a campaign's wave reports (campaign.Report): the hash of
// each one written, and those computed but not yet written (a write that failed is tried again
// at the next reconcile, so that a closed wave's final figures are not lost).
type reports struct {
	written map[string]string // wave → hash of its report's data
	pending map[string][]byte // wave → the report's data
}

// queueReport computes a wave's report from the results just applied to it, to be written by
// writeReports unless it is what was written last.
func (u *run) queueReport(w *v1alpha1.WaveStatus, res campaign.Results, sum responseapi.Summary) {
	data, err := json.Marshal(campaign.NewReport(u.c, w, res, sum))
	if err != nil {
		return // plain data: cannot happen
	}
	st, _ := u.r.reports.get(u.key)
	if st.written == nil {
		st = reports{written: map[string]string{}, pending: map[string][]byte{}}
	}
	if st.written[w.ID] == reportHash(data) {
		delete(st.pending, w.ID)
	} else {
		st.pending[w.ID] = data
	}
	u.r.reports.put(u.key, st)
}

func reportHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// writeReports writes the reports queued, in wave order; one that fails stays queued.
func (u *run) writeReports(ctx context.Context) error {
	st, ok := u.r.reports.get(u.key)
	if !ok {
		return nil
	}
	for _, wave := range slices.Sorted(maps.Keys(st.pending)) {
		data := st.pending[wave]
		if err := u.writeReport(ctx, wave, data); err != nil {
			return fmt.Errorf("the report of wave %s: %w", wave, err)
		}
		st.written[wave] = reportHash(data)
		delete(st.pending, wave)
	}
	return nil
}

// writeReport creates or updates a wave's report ConfigMap, owned by the campaign.
func (u *run) writeReport(ctx context.Context, wave string, data []byte) error {
	want := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: campaign.ReportName(u.c.Name, wave), Namespace: u.c.Namespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "survey-operator", campaign.LabelComponent: campaign.ComponentReport,
			campaign.LabelCampaignUID: string(u.c.UID), campaign.LabelWave: wave}},
		Data: map[string]string{campaign.ReportKey: string(data)}}
	if err := controllerutil.SetControllerReference(u.c, want, u.r.Scheme()); err != nil {
		return err
	}
	var have corev1.ConfigMap
	err := u.r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), &have)
	switch {
	case apierrors.IsNotFound(err):
		return u.r.Create(ctx, want)
	case err != nil:
		return err
	case have.Labels[campaign.LabelCampaignUID] != string(u.c.UID):
		return fmt.Errorf("a ConfigMap named %s exists and is not this campaign's", want.Name)
	case have.Data[campaign.ReportKey] == want.Data[campaign.ReportKey]:
		return nil
	}
	have.Data = want.Data
	return u.r.Update(ctx, &have)
}

// deleteReport deletes a wave's report, when its wave leaves the history.
func (u *run) deleteReport(ctx context.Context, wave string) error {
	if st, ok := u.r.reports.get(u.key); ok {
		delete(st.written, wave)
		delete(st.pending, wave)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: campaign.ReportName(u.c.Name, wave), Namespace: u.c.Namespace}}
	if err := u.r.Delete(ctx, cm); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
