// The browser script /agent-sdk/agent-sdk_1.1.64.js: `AgentSdk` as a global.
import { AgentSdk } from './agent-sdk.js';

globalThis.AgentSdk = AgentSdk;
