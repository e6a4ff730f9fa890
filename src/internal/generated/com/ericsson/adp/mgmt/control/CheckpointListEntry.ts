// Original file: OrchestratorControl.proto

import type { CheckpointInformation as _CheckpointInformation, CheckpointInformation__Output as _CheckpointInformation__Output } from '../../../../../CheckpointInformation.js';

export interface CheckpointListEntry {
  'checkpointInformation'?: (_CheckpointInformation | null);
  'last'?: (boolean);
}

export interface CheckpointListEntry__Output {
  'checkpointInformation': (_CheckpointInformation__Output | null);
  'last': (boolean);
}
