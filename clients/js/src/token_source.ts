// The user access token, asked of the partner's backend once and reused until the API
// refuses it. Requests refused together share one renewal, so a burst of 401s from
// parallel calls costs the backend one call, not one per call.

export type TokenProvider = () => string | Promise<string>;

export class TokenSource {
  private readonly provider_: TokenProvider;
  private current_: Promise<string> | undefined;
  private settled_: string | undefined;  // what current_ resolved to, once it has

  constructor(provider: TokenProvider) {
    this.provider_ = provider;
  }

  token(): Promise<string> {
    return this.current_ ?? this.ask();
  }

  /** A token to use instead of `refused`: the provider is asked again unless a renewal is
   *  already under way or has already replaced `refused`. */
  renew(refused: string): Promise<string> {
    if (this.current_ && this.settled_ !== refused) return this.current_;
    return this.ask();
  }

  private ask(): Promise<string> {
    const asked = Promise.resolve().then(() => this.provider_());
    this.current_ = asked;
    this.settled_ = undefined;
    asked.then(
      (token) => {
        if (this.current_ === asked) this.settled_ = token;
      },
      () => {
        // Not cached: the next request asks again.
        if (this.current_ === asked) this.current_ = undefined;
      });
    return asked;
  }
}
