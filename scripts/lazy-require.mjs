// A module binding loaded on its first use (scripts/bundle.mjs puts it on @oclif/core's requires).
export function lazy(load) {
  let m
  const get = () => (m ??= load())
  return new Proxy(
    {},
    {
      get: (_, k) => get()[k],
      set: (_, k, v) => ((get()[k] = v), true),
      has: (_, k) => k in get(),
      ownKeys: () => Reflect.ownKeys(get()),
      // A module's exports are non-configurable getters; the proxy's empty target cannot claim those.
      getOwnPropertyDescriptor: (_, k) => {
        const d = Reflect.getOwnPropertyDescriptor(get(), k)
        return d && {...d, configurable: true}
      },
    },
  )
}
