export { CONFIG_MAP_PLUGIN_NAME, ConfigMapPlugin, getConfigMapForVolume, makeConfigMapPayload } from './config-map.ts';
