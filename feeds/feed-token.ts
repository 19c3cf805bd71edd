// Feed URL secrets: /feeds/<token>.ics, tokens like every other secret of ours
// (src/domain/secret-token.ts). Only hashFeedToken(token) is ever stored.
export {
  hashSecretToken as hashFeedToken,
  isWellFormedSecretToken as isWellFormedFeedToken,
  newSecretToken as generateFeedToken,
} from '../src/domain/secret-token.js';
