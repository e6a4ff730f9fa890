// Original file: OrchestratorControl.proto


export interface RequestDependencies {
}

export interface RequestDependencies__Output {
}
