// Original file: AgentControl.proto

export const AgentMessageType = {
  AGENT_DEPENDENCIES: 'AGENT_DEPENDENCIES',
  STAGE_COMPLETE: 'STAGE_COMPLETE',
  PREPARE_DEPENDENCY: 'PREPARE_DEPENDENCY',
  EXECUTION_DEPENDENCY: 'EXECUTION_DEPENDENCY',
  REGISTER: 'REGISTER',
  CHECKPOINT_INFORMATION: 'CHECKPOINT_INFORMATION',
  METRICS: 'METRICS',
} as const;

export type AgentMessageType =
  | 'AGENT_DEPENDENCIES'
  | 0
  | 'STAGE_COMPLETE'
  | 1
  | 'PREPARE_DEPENDENCY'
  | 2
  | 'EXECUTION_DEPENDENCY'
  | 3
  | 'REGISTER'
  | 4
  | 'CHECKPOINT_INFORMATION'
  | 5
  | 'METRICS'
  | 6

export type AgentMessageType__Output = typeof AgentMessageType[keyof typeof AgentMessageType]
