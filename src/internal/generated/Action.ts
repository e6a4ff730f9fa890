// Original file: Action.proto

export const Action = {
  REGISTER: 'REGISTER',
  BACKUP: 'BACKUP',
  RESTORE: 'RESTORE',
  CANCEL: 'CANCEL',
} as const;

export type Action =
  | 'REGISTER'
  | 0
  | 'BACKUP'
  | 1
  | 'RESTORE'
  | 2
  | 'CANCEL'
  | 3

export type Action__Output = typeof Action[keyof typeof Action]
