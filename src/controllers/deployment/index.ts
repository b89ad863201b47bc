// The Deployment controller: rolls a Deployment's pod template out through one
// ReplicaSet per template. See deployment-controller.ts.
export {
  DEPLOYMENTS,
  HashCollisionError,
  startDeploymentController,
  type DeploymentControllerContext,
  type DeploymentControllerOptions,
} from './deployment-controller.ts';
export {
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  computeHash,
} from './deployment-util.ts';
