// Original file: AgentControl.proto

export const ResponseType = {
  NONE: 'NONE',
  UNKNOWN: 'UNKNOWN',
  INT: 'INT',
  FLOAT: 'FLOAT',
  STRING: 'STRING',
  INT_ARRAY: 'INT_ARRAY',
  FLOAT_ARRAY: 'FLOAT_ARRAY',
} as const;

export type ResponseType =
  | 'NONE'
  | 0
  | 'UNKNOWN'
  | 1
  | 'INT'
  | 2
  | 'FLOAT'
  | 3
  | 'STRING'
  | 4
  | 'INT_ARRAY'
  | 5
  | 'FLOAT_ARRAY'
  | 6

export type ResponseType__Output = typeof ResponseType[keyof typeof ResponseType]
