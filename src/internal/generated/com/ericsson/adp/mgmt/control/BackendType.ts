// Original file: AgentControl.proto

export const BackendType = {
  BRO: 'BRO',
  OBJECT_STORAGE: 'OBJECT_STORAGE',
  OBJECT_STORAGE_EXTERNAL: 'OBJECT_STORAGE_EXTERNAL',
} as const;

export type BackendType =
  | 'BRO'
  | 0
  | 'OBJECT_STORAGE'
  | 1
  | 'OBJECT_STORAGE_EXTERNAL'
  | 2

export type BackendType__Output = typeof BackendType[keyof typeof BackendType]
