// Original file: INT_BR_ORCH_DATA.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BackupData as _com_ericsson_adp_mgmt_data_BackupData, BackupData__Output as _com_ericsson_adp_mgmt_data_BackupData__Output } from '../../../../../com/ericsson/adp/mgmt/data/BackupData.js';
import type { Empty as _google_protobuf_Empty, Empty__Output as _google_protobuf_Empty__Output } from '../../../../../google/protobuf/Empty.js';
import type { Metadata as _com_ericsson_adp_mgmt_data_Metadata, Metadata__Output as _com_ericsson_adp_mgmt_data_Metadata__Output } from '../../../../../com/ericsson/adp/mgmt/data/Metadata.js';
import type { RestoreData as _com_ericsson_adp_mgmt_data_RestoreData, RestoreData__Output as _com_ericsson_adp_mgmt_data_RestoreData__Output } from '../../../../../com/ericsson/adp/mgmt/data/RestoreData.js';

export interface DataInterfaceClient extends grpc.Client {
  backup(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientWritableStream<_com_ericsson_adp_mgmt_data_BackupData>;
  backup(metadata: grpc.Metadata, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientWritableStream<_com_ericsson_adp_mgmt_data_BackupData>;
  backup(options: grpc.CallOptions, callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientWritableStream<_com_ericsson_adp_mgmt_data_BackupData>;
  backup(callback: grpc.requestCallback<_google_protobuf_Empty__Output>): grpc.ClientWritableStream<_com_ericsson_adp_mgmt_data_BackupData>;
  
  restore(argument: _com_ericsson_adp_mgmt_data_Metadata, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_com_ericsson_adp_mgmt_data_RestoreData__Output>;
  restore(argument: _com_ericsson_adp_mgmt_data_Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_com_ericsson_adp_mgmt_data_RestoreData__Output>;
  
}

export interface DataInterfaceHandlers extends grpc.UntypedServiceImplementation {
  backup: grpc.handleClientStreamingCall<_com_ericsson_adp_mgmt_data_BackupData__Output, _google_protobuf_Empty>;
  
  restore: grpc.handleServerStreamingCall<_com_ericsson_adp_mgmt_data_Metadata__Output, _com_ericsson_adp_mgmt_data_RestoreData>;
  
}

export interface DataInterfaceDefinition extends grpc.ServiceDefinition {
  backup: MethodDefinition<_com_ericsson_adp_mgmt_data_BackupData, _google_protobuf_Empty, _com_ericsson_adp_mgmt_data_BackupData__Output, _google_protobuf_Empty__Output>
  restore: MethodDefinition<_com_ericsson_adp_mgmt_data_Metadata, _com_ericsson_adp_mgmt_data_RestoreData, _com_ericsson_adp_mgmt_data_Metadata__Output, _com_ericsson_adp_mgmt_data_RestoreData__Output>
}
