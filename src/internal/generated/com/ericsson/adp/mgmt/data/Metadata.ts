// Original file: INT_BR_ORCH_DATA.proto

import type { Fragment as _Fragment, Fragment__Output as _Fragment__Output } from '../../../../../Fragment.js';

export interface Metadata {
  'agentId'?: (string);
  'fragment'?: (_Fragment | null);
  'backupName'?: (string);
  'backupType'?: (string);
}

export interface Metadata__Output {
  'agentId': (string);
  'fragment': (_Fragment__Output | null);
  'backupName': (string);
  'backupType': (string);
}
