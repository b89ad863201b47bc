export {
  collectDownwardAPIData,
  DOWNWARD_API_PLUGIN_NAME,
  DownwardAPIFieldError,
  DownwardAPIPlugin,
  extractFieldPathAsString,
  extractResourceValue,
  formatMap,
} from './downward-api.ts';
