// Original file: OrchestratorControl.proto

import type { SoftwareVersionInfo as _SoftwareVersionInfo, SoftwareVersionInfo__Output as _SoftwareVersionInfo__Output } from '../../../../../SoftwareVersionInfo.js';
import type { Fragment as _Fragment, Fragment__Output as _Fragment__Output } from '../../../../../Fragment.js';

export interface Preparation {
  'backupName'?: (string);
  'softwareVersionInfo'?: (_SoftwareVersionInfo | null);
  'fragment'?: (_Fragment)[];
  'backupType'?: (string);
}

export interface Preparation__Output {
  'backupName': (string);
  'softwareVersionInfo': (_SoftwareVersionInfo__Output | null);
  'fragment': (_Fragment__Output)[];
  'backupType': (string);
}
