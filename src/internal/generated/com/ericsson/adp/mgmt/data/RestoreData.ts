// Original file: INT_BR_ORCH_DATA.proto

import type { DataMessageType as _com_ericsson_adp_mgmt_data_DataMessageType, DataMessageType__Output as _com_ericsson_adp_mgmt_data_DataMessageType__Output } from '../../../../../com/ericsson/adp/mgmt/data/DataMessageType.js';
import type { CustomMetadataFileChunk as _com_ericsson_adp_mgmt_data_CustomMetadataFileChunk, CustomMetadataFileChunk__Output as _com_ericsson_adp_mgmt_data_CustomMetadataFileChunk__Output } from '../../../../../com/ericsson/adp/mgmt/data/CustomMetadataFileChunk.js';
import type { BackupFileChunk as _com_ericsson_adp_mgmt_data_BackupFileChunk, BackupFileChunk__Output as _com_ericsson_adp_mgmt_data_BackupFileChunk__Output } from '../../../../../com/ericsson/adp/mgmt/data/BackupFileChunk.js';

export interface RestoreData {
  'dataMessageType'?: (_com_ericsson_adp_mgmt_data_DataMessageType);
  'customMetadataFileChunk'?: (_com_ericsson_adp_mgmt_data_CustomMetadataFileChunk | null);
  'backupFileChunk'?: (_com_ericsson_adp_mgmt_data_BackupFileChunk | null);
}

export interface RestoreData__Output {
  'dataMessageType': (_com_ericsson_adp_mgmt_data_DataMessageType__Output);
  'customMetadataFileChunk': (_com_ericsson_adp_mgmt_data_CustomMetadataFileChunk__Output | null);
  'backupFileChunk': (_com_ericsson_adp_mgmt_data_BackupFileChunk__Output | null);
}
