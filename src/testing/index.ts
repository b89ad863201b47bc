// Test helpers shared by every end-to-end test: an in-process cluster with a
// kubectl runner, and the leak check run after the suite.
export {
  KubectlError,
  KubectlNotFoundError,
  hasKubectl,
  kubectlPath,
  startTestCluster,
  type KubectlOptions,
  type KubectlResult,
  type TestCluster,
  type TestClusterOptions,
} from './cluster.ts';
export { findLeaks, isOurs, mountsBelow, mountTargetsBelow, undoLeaksUnder, type MountRow } from './leak-check.ts';
export {
  runSteps,
  startControllerEnv,
  waitForState,
  type ControllerEnv,
  type ControllerEnvOptions,
  type RowEnv,
  type StartControllers,
  type WorldStep,
} from './controller-env.ts';
