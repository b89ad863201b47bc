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
export { findLeaks, isOurs } from './leak-check.ts';
