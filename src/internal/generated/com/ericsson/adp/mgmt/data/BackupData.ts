// Original file: INT_BR_ORCH_DATA.proto

import type { DataMessageType as _com_ericsson_adp_mgmt_data_DataMessageType, DataMessageType__Output as _com_ericsson_adp_mgmt_data_DataMessageType__Output } from '../../../../../com/ericsson/adp/mgmt/data/DataMessageType.js';
import type { Metadata as _com_ericsson_adp_mgmt_data_Metadata, Metadata__Output as _com_ericsson_adp_mgmt_data_Metadata__Output } from '../../../../../com/ericsson/adp/mgmt/data/Metadata.js';
import type { CustomMetadataFileChunk as _com_ericsson_adp_mgmt_data_CustomMetadataFileChunk, CustomMetadataFileChunk__Output as _com_ericsson_adp_mgmt_data_CustomMetadataFileChunk__Output } from '../../../../../com/ericsson/adp/mgmt/data/CustomMetadataFileChunk.js';
import type { BackupFileChunk as _com_ericsson_adp_mgmt_data_BackupFileChunk, BackupFileChunk__Output as _com_ericsson_adp_mgmt_data_BackupFileChunk__Output } from '../../../../../com/ericsson/adp/mgmt/data/BackupFileChunk.js';
import type { Size as _com_ericsson_adp_mgmt_data_Size, Size__Output as _com_ericsson_adp_mgmt_data_Size__Output } from '../../../../../com/ericsson/adp/mgmt/data/Size.js';

export interface BackupData {
  'dataMessageType'?: (_com_ericsson_adp_mgmt_data_DataMessageType);
  'metadata'?: (_com_ericsson_adp_mgmt_data_Metadata | null);
  'customMetadataFileChunk'?: (_com_ericsson_adp_mgmt_data_CustomMetadataFileChunk | null);
  'backupFileChunk'?: (_com_ericsson_adp_mgmt_data_BackupFileChunk | null);
  'size'?: (_com_ericsson_adp_mgmt_data_Size | null);
}

export interface BackupData__Output {
  'dataMessageType': (_com_ericsson_adp_mgmt_data_DataMessageType__Output);
  'metadata': (_com_ericsson_adp_mgmt_data_Metadata__Output | null);
  'customMetadataFileChunk': (_com_ericsson_adp_mgmt_data_CustomMetadataFileChunk__Output | null);
  'backupFileChunk': (_com_ericsson_adp_mgmt_data_BackupFileChunk__Output | null);
  'size': (_com_ericsson_adp_mgmt_data_Size__Output | null);
}
