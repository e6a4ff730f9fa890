// Original file: INT_BR_ORCH_DATA.proto

export const DataMessageType = {
  METADATA: 'METADATA',
  CUSTOM_METADATA_FILE: 'CUSTOM_METADATA_FILE',
  BACKUP_FILE: 'BACKUP_FILE',
  SIZE: 'SIZE',
} as const;

export type DataMessageType =
  | 'METADATA'
  | 0
  | 'CUSTOM_METADATA_FILE'
  | 1
  | 'BACKUP_FILE'
  | 2
  | 'SIZE'
  | 3

export type DataMessageType__Output = typeof DataMessageType[keyof typeof DataMessageType]
