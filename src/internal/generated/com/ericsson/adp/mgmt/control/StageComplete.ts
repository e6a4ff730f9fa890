// Original file: AgentControl.proto


export interface StageComplete {
  'success'?: (boolean);
  'agentId'?: (string);
  'message'?: (string);
}

export interface StageComplete__Output {
  'success': (boolean);
  'agentId': (string);
  'message': (string);
}
