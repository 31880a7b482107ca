//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/demo"
)

// s3Manifest is a real S3-compatible server (versitygw, the image hack/image -set s3 builds)
// over an emptyDir, with the root key pair given on its command line.
const s3Manifest = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: s3}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app.kubernetes.io/name: s3}}
  template:
    metadata: {labels: {app.kubernetes.io/name: s3}}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: s3
          image: survey-s3:dev
          imagePullPolicy: IfNotPresent
          args: [--port, ":7070", --access, "%[1]s", --secret, "%[2]s", --region, eu-west-2, --health, /_health, --quiet, posix, /data]
          ports: [{name: s3, containerPort: 7070}]
          readinessProbe: {httpGet: {path: /_health, port: s3}, periodSeconds: 2}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 256Mi}}
          volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: s3}
spec:
  selector: {app.kubernetes.io/name: s3}
  ports: [{name: s3, port: 7070, targetPort: s3}]
`

var _ = Describe("An audience in a bucket", func() {
	It("sends a wave of 100,000 people read from object storage by 4 shards: each invited exactly once, the frame right, the scores in the status", func() {
		const people = 100_000
		p := newProgramme("bucket", 1, func(c *v1alpha1.SurveyCampaign) {
			c.Spec.Channels[0].RateLimit = nil // as fast as the mail sink takes them
			c.Spec.Sending = &v1alpha1.Sending{Shards: ptr.To(int32(4)), Parallelism: ptr.To(int32(4))}
			c.Spec.Reporting = &v1alpha1.Reporting{MinimumGroupSize: ptr.To(int32(3))}
		})
		access, secret := fmt.Sprintf("E2EROOT%06d", rand.IntN(1e6)), fmt.Sprintf("%x", rand.Uint64())
		_, err := kubectlOut(fmt.Sprintf(s3Manifest, access, secret), "-n", p.ns, "apply", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		run("-n", p.ns, "rollout", "status", "deployment/s3", "--timeout", "180s")

		By("the nightly export lands in the bucket, gzip-compressed")
		var list bytes.Buffer
		Expect(demo.WriteAudience(&list, people, rand.Uint64())).To(Succeed())
		populations := segmentsOf(list.Bytes())
		var packed bytes.Buffer
		zw := gzip.NewWriter(&packed)
		_, err = zw.Write(list.Bytes())
		Expect(err).NotTo(HaveOccurred())
		Expect(zw.Close()).To(Succeed())
		endpoint := clusterIP(p.ns, "s3") + ":7070"
		mc, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), Region: "eu-west-2",
			BucketLookup: minio.BucketLookupPath, Transport: &http.Transport{DisableKeepAlives: true}})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error { return mc.MakeBucket(ctx, "exports", minio.MakeBucketOptions{Region: "eu-west-2"}) }).Should(Succeed())
		_, err = mc.PutObject(ctx, "exports", "housing/tenants.csv.gz", bytes.NewReader(packed.Bytes()), int64(packed.Len()), minio.PutObjectOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: "exports-reader"},
			Data: map[string][]byte{"accesskey": []byte(access), "secretkey": []byte(secret)}})).To(Succeed())

		By("the campaign reads it from the bucket")
		p.campaign.Spec.Audience.Source.SecretRef = nil
		p.campaign.Spec.Audience.Source.ObjectStore = &v1alpha1.ObjectStoreSource{Endpoint: "s3." + p.ns + ".svc:7070", Bucket: "exports",
			Key: "housing/tenants.csv.gz", Region: "eu-west-2", Insecure: true, Addressing: v1alpha1.BucketAddressingPath,
			SecretRef: v1alpha1.LocalObjectReference{Name: "exports-reader"}}
		started := time.Now()
		p.start()
		Eventually(func() *v1alpha1.AudienceVersion { return p.wave().AudienceVersion }).ShouldNot(BeNil(), "the wave pinned to the object's version")
		Eventually(func() v1alpha1.WavePhase { return p.wave().Phase }, 15*time.Minute, 5*time.Second).Should(Equal(v1alpha1.WaveCollecting))
		Eventually(func() int64 { return p.wave().Invited }, 3*time.Minute).Should(BeEquivalentTo(people))
		GinkgoWriter.Printf("100,000 invitations from the bucket by 4 shards in %s\n", time.Since(started).Round(time.Second))
		Expect(p.jobs()).To(HaveLen(1))
		var job struct {
			Spec struct{ Completions, Parallelism int } `json:"spec"`
		}
		Expect(json.Unmarshal([]byte(run("-n", p.ns, "get", "job", p.jobs()[0], "-o", "json")), &job)).To(Succeed())
		Expect(job.Spec.Completions).To(Equal(4))

		By("every person got exactly one invitation")
		var received map[string]int
		Eventually(func() error { return getJSON(p.mailURL+"/api/recipients", &received) }).Should(Succeed())
		Expect(received).To(HaveLen(people))
		twice := 0
		for _, n := range received {
			if n != 1 {
				twice++
			}
		}
		Expect(twice).To(BeZero(), "people invited more than once")

		By("the frame's populations are the file's")
		w := p.wave()
		got := map[string]int64{}
		for _, s := range w.Segments {
			got[s.Name] = s.Population
		}
		Expect(got).To(Equal(populations))

		By("answers arrive, and the status scores them")
		var recent []demo.Mail
		Expect(getJSON(p.mailURL+"/api/messages?limit=100", &recent)).To(Succeed())
		links := demo.SurveyLinks(recent)
		Expect(len(links)).To(BeNumerically(">=", 40))
		var acked, failed atomic.Int32
		Expect(answerAll(p, links[:40], func(i int) int { return 1 + i%5 }, 0, &acked, &failed)).To(Succeed())
		Eventually(func() int64 { return p.wave().Responded }, 3*time.Minute).Should(BeEquivalentTo(40))
		Eventually(func() v1alpha1.Decimal {
			for _, s := range p.wave().Scores {
				if s.Question == "tp01" {
					return s.Value
				}
			}
			return ""
		}, 3*time.Minute).ShouldNot(BeEmpty())
	})
})

// segmentsOf counts the demo audience's people in each of the demo campaign's segments, from
// the tenure column, as the campaign's segments match them.
func segmentsOf(list []byte) map[string]int64 {
	GinkgoHelper()
	r := csv.NewReader(bytes.NewReader(list))
	header, err := r.Read()
	Expect(err).NotTo(HaveOccurred())
	tenure := -1
	for i, h := range header {
		if h == "tenure" {
			tenure = i
		}
	}
	Expect(tenure).To(BeNumerically(">=", 0))
	out := map[string]int64{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		switch t := strings.TrimSpace(rec[tenure]); t {
		case "supported", "older-persons":
			out["supported-housing"]++
		case "shared-ownership", "general-needs":
			out[t]++
		}
	}
}

// getJSON decodes what url answers into v.
func getJSON(url string, v any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
