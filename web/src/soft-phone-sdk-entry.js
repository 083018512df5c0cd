// The browser script /soft-phone-sdk/soft-phone-sdk_1.0.19.js: `SoftPhoneSdk` as a global.
import { SoftPhoneSdk } from './soft-phone-sdk.js';

globalThis.SoftPhoneSdk = SoftPhoneSdk;
