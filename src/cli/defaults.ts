// Defaults of `volplane up`, apart so that help text needs no heavy imports.
/** Loopback only: the API is reachable from this machine unless asked otherwise. */
export const DEFAULT_API_HOST = '127.0.0.1';
/** kube-apiserver's customary secure port. */
export const DEFAULT_API_PORT = 6443;

/** The user and group a node's join token authenticates as. */
export const JOIN_TOKEN_USER = 'system:node:volplane-join';
export const NODES_GROUP = 'system:nodes';
