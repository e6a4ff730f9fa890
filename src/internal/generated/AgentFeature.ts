// Original file: AgentFeature.proto

export const AgentFeature = {
  PLAINTEXT: 'PLAINTEXT',
  TLS: 'TLS',
  MTLS: 'MTLS',
  PREPARE_STAGE: 'PREPARE_STAGE',
  POST_STAGE: 'POST_STAGE',
  MULTIPLE_BACKUP_TYPES: 'MULTIPLE_BACKUP_TYPES',
  SELECTIVE_BACKUP: 'SELECTIVE_BACKUP',
  CHECKPOINTS: 'CHECKPOINTS',
  RESUME: 'RESUME',
  CHECKSUM_NONE: 'CHECKSUM_NONE',
  CHECKSUM_MD5: 'CHECKSUM_MD5',
  CHECKSUM_XXHASH_64: 'CHECKSUM_XXHASH_64',
} as const;

export type AgentFeature =
  | 'PLAINTEXT'
  | 0
  | 'TLS'
  | 1
  | 'MTLS'
  | 2
  | 'PREPARE_STAGE'
  | 3
  | 'POST_STAGE'
  | 4
  | 'MULTIPLE_BACKUP_TYPES'
  | 5
  | 'SELECTIVE_BACKUP'
  | 6
  | 'CHECKPOINTS'
  | 7
  | 'RESUME'
  | 8
  | 'CHECKSUM_NONE'
  | 9
  | 'CHECKSUM_MD5'
  | 10
  | 'CHECKSUM_XXHASH_64'
  | 11

export type AgentFeature__Output = typeof AgentFeature[keyof typeof AgentFeature]
