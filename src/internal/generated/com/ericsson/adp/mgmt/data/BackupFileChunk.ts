// Original file: INT_BR_ORCH_DATA.proto


export interface BackupFileChunk {
  'fileName'?: (string);
  'content'?: (Buffer | Uint8Array | string);
  'checksum'?: (string);
}

export interface BackupFileChunk__Output {
  'fileName': (string);
  'content': (Buffer);
  'checksum': (string);
}
