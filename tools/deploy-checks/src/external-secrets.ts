import { get, type K8sObject } from './k8s.js'

/**
 * The Secrets overlays/prod reads but does not create, with the keys their makers write, for
 * containerEnvironment: ad-tracking-secrets from deploy/k8s/secret.template.yaml; CloudNativePG's
 * <cluster>-app for the application user
 * (https://cloudnative-pg.io/documentation/current/applications/); and, for each KafkaAccess of
 * deploy/k8s/data-tier, the Secret of the same name Strimzi's Access Operator writes (its `username` is
 * the KafkaUser's name; https://github.com/strimzi/kafka-access-operator).
 */
export function prodExternalSecrets(
  secretTemplate: K8sObject[],
  dataTier: K8sObject[],
): Record<string, Record<string, string>> {
  const secrets: Record<string, Record<string, string>> = {
    'ad-tracking-secrets': get(secretTemplate, 'Secret', 'ad-tracking-secrets').stringData,
    'ad-tracking-pg-app': {
      username: 'app',
      password: 'secret',
      host: 'ad-tracking-pg-rw',
      port: '5432',
      dbname: 'app',
      uri: 'postgresql://app:secret@ad-tracking-pg-rw.ad-tracking:5432/app',
    },
  }
  for (const access of dataTier.filter((o) => o.kind === 'KafkaAccess'))
    secrets[access.metadata.name] = {
      username: access.spec.user.name,
      password: `${access.spec.user.name}-password`,
      'ssl.truststore.crt': '-----BEGIN CERTIFICATE-----\n(the cluster CA)\n-----END CERTIFICATE-----\n',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'security.protocol': 'SASL_SSL',
    }
  return secrets
}
