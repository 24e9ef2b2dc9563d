/**
 * NODE_OPTIONS the service images set (deploy/Dockerfile's ENV; a deploy-checks test keeps the two
 * equal), and so the bench's default for the processes it measures: V8's young generation held to 2 MB
 * semi-spaces, which cut peak RSS by 100-250 MiB per service at no measurable throughput cost.
 */
export const SERVICE_NODE_OPTIONS = '--max-semi-space-size=2'
