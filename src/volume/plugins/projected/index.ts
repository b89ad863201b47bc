export { collectProjectedData, PROJECTED_PLUGIN_NAME, ProjectedPlugin } from './projected.ts';
export type { ServiceAccountTokenRequest, ServiceAccountTokenSource } from './projected.ts';
