// Original file: CancelBackupRestore.proto


export interface CancelBackupRestore {
  'message'?: (string);
}

export interface CancelBackupRestore__Output {
  'message': (string);
}
