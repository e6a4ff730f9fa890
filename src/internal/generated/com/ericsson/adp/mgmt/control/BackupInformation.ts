// Original file: OrchestratorControl.proto

import type { SoftwareVersionInfo as _SoftwareVersionInfo, SoftwareVersionInfo__Output as _SoftwareVersionInfo__Output } from '../../../../../SoftwareVersionInfo.js';

export interface BackupInformation {
  'backupName'?: (string);
  'softwareVersionInfo'?: (_SoftwareVersionInfo | null);
  'backupType'?: (string);
}

export interface BackupInformation__Output {
  'backupName': (string);
  'softwareVersionInfo': (_SoftwareVersionInfo__Output | null);
  'backupType': (string);
}
