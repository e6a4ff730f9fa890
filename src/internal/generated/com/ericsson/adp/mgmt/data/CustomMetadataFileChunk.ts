// Original file: INT_BR_ORCH_DATA.proto


export interface CustomMetadataFileChunk {
  'fileName'?: (string);
  'content'?: (Buffer | Uint8Array | string);
  'checksum'?: (string);
}

export interface CustomMetadataFileChunk__Output {
  'fileName': (string);
  'content': (Buffer);
  'checksum': (string);
}
