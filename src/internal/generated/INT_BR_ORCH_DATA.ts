import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Fragment as _Fragment, Fragment__Output as _Fragment__Output } from './Fragment.js';
import type { BackupData as _com_ericsson_adp_mgmt_data_BackupData, BackupData__Output as _com_ericsson_adp_mgmt_data_BackupData__Output } from './com/ericsson/adp/mgmt/data/BackupData.js';
import type { BackupFileChunk as _com_ericsson_adp_mgmt_data_BackupFileChunk, BackupFileChunk__Output as _com_ericsson_adp_mgmt_data_BackupFileChunk__Output } from './com/ericsson/adp/mgmt/data/BackupFileChunk.js';
import type { CustomMetadataFileChunk as _com_ericsson_adp_mgmt_data_CustomMetadataFileChunk, CustomMetadataFileChunk__Output as _com_ericsson_adp_mgmt_data_CustomMetadataFileChunk__Output } from './com/ericsson/adp/mgmt/data/CustomMetadataFileChunk.js';
import type { DataInterfaceClient as _com_ericsson_adp_mgmt_data_DataInterfaceClient, DataInterfaceDefinition as _com_ericsson_adp_mgmt_data_DataInterfaceDefinition } from './com/ericsson/adp/mgmt/data/DataInterface.js';
import type { Metadata as _com_ericsson_adp_mgmt_data_Metadata, Metadata__Output as _com_ericsson_adp_mgmt_data_Metadata__Output } from './com/ericsson/adp/mgmt/data/Metadata.js';
import type { RestoreData as _com_ericsson_adp_mgmt_data_RestoreData, RestoreData__Output as _com_ericsson_adp_mgmt_data_RestoreData__Output } from './com/ericsson/adp/mgmt/data/RestoreData.js';
import type { Size as _com_ericsson_adp_mgmt_data_Size, Size__Output as _com_ericsson_adp_mgmt_data_Size__Output } from './com/ericsson/adp/mgmt/data/Size.js';
import type { Empty as _google_protobuf_Empty, Empty__Output as _google_protobuf_Empty__Output } from './google/protobuf/Empty.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  Fragment: MessageTypeDefinition<_Fragment, _Fragment__Output>
  com: {
    ericsson: {
      adp: {
        mgmt: {
          data: {
            BackupData: MessageTypeDefinition<_com_ericsson_adp_mgmt_data_BackupData, _com_ericsson_adp_mgmt_data_BackupData__Output>
            BackupFileChunk: MessageTypeDefinition<_com_ericsson_adp_mgmt_data_BackupFileChunk, _com_ericsson_adp_mgmt_data_BackupFileChunk__Output>
            CustomMetadataFileChunk: MessageTypeDefinition<_com_ericsson_adp_mgmt_data_CustomMetadataFileChunk, _com_ericsson_adp_mgmt_data_CustomMetadataFileChunk__Output>
            DataInterface: SubtypeConstructor<typeof grpc.Client, _com_ericsson_adp_mgmt_data_DataInterfaceClient> & { service: _com_ericsson_adp_mgmt_data_DataInterfaceDefinition }
            DataMessageType: EnumTypeDefinition
            Metadata: MessageTypeDefinition<_com_ericsson_adp_mgmt_data_Metadata, _com_ericsson_adp_mgmt_data_Metadata__Output>
            RestoreData: MessageTypeDefinition<_com_ericsson_adp_mgmt_data_RestoreData, _com_ericsson_adp_mgmt_data_RestoreData__Output>
            Size: MessageTypeDefinition<_com_ericsson_adp_mgmt_data_Size, _com_ericsson_adp_mgmt_data_Size__Output>
          }
        }
      }
    }
  }
  google: {
    protobuf: {
      Empty: MessageTypeDefinition<_google_protobuf_Empty, _google_protobuf_Empty__Output>
    }
  }
}

