# One image, three entry points: /manager (the controllers), and later /collector (the response
# service) and /sender (the sending Jobs). Static binaries on a distroless base, as a non-root user.
# Machines without a container engine build the same image with `make image` (deployment issue).
FROM golang:1.27 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /
COPY --from=build /out/ /
USER 65532:65532
ENTRYPOINT ["/manager"]
