// Original file: CheckpointInformation.proto


export interface CheckpointInformation {
  'key'?: (string);
  'value'?: (string);
}

export interface CheckpointInformation__Output {
  'key': (string);
  'value': (string);
}
