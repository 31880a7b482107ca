package controllers

// AudienceRetryForTests is how soon the manager looks again at a list it could not reach, for
// the envtest suite (package controllers_test).
const AudienceRetryForTests = audienceRetry
