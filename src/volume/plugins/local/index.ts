export { LOCAL_PLUGIN_NAME, LocalVolumePlugin } from './local.ts';
