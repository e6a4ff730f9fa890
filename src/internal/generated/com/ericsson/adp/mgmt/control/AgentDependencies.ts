// Original file: AgentControl.proto


export interface AgentDependencies {
  'agentId'?: (string)[];
}

export interface AgentDependencies__Output {
  'agentId': (string)[];
}
