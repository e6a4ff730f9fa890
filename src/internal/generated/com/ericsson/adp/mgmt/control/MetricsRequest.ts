// Original file: OrchestratorControl.proto


export interface MetricsRequest {
  'metricId'?: (string);
}

export interface MetricsRequest__Output {
  'metricId': (string);
}
