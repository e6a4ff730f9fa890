// Original file: INT_BR_ORCH_DATA.proto

import type { Long } from '@grpc/proto-loader';

export interface Size {
  'sizeInBytes'?: (number | string | Long);
}

export interface Size__Output {
  'sizeInBytes': (string);
}
