// Per-operation cost of the native crypto a crawl calls (docs/performance.md, "The window's overshoot"): libsecp256k1
// (the Secp256k1.Net package's build) and X25519 in libsodium (NSec's package) against OpenSSL's libcrypto.
//   gcc -O2 bench/tools/native-crypto.c -o /tmp/native-crypto -lcrypto -ldl
//   /tmp/native-crypto <dir>/libsecp256k1.so <dir>/libsodium.so      (<dir>: a published clp2p, as README says)
// Each figure is the mean of 20,000 calls with one key; no output is checked (the libraries' own tests do that).
#include <dlfcn.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct { unsigned char d[64]; } pubkey;
typedef struct { unsigned char d[64]; } signature;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define N 20000
#define TIME(label, stmt) do { double t0 = now(); for (int i = 0; i < N; i++) { stmt; } \
    printf("%-40s %6.1f us\n", label, (now() - t0) / N * 1e6); } while (0)

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: %s libsecp256k1.so libsodium.so\n", argv[0]); return 2; }
    void *secp = dlopen(argv[1], RTLD_NOW), *sodium = dlopen(argv[2], RTLD_NOW);
    if (!secp || !sodium) { fprintf(stderr, "%s\n", dlerror()); return 2; }

    void *(*ctx_create)(unsigned) = dlsym(secp, "secp256k1_context_create");
    int (*pk_create)(void *, pubkey *, const unsigned char *) = dlsym(secp, "secp256k1_ec_pubkey_create");
    int (*pk_serialize)(void *, unsigned char *, size_t *, const pubkey *, unsigned) = dlsym(secp, "secp256k1_ec_pubkey_serialize");
    int (*pk_parse)(void *, pubkey *, const unsigned char *, size_t) = dlsym(secp, "secp256k1_ec_pubkey_parse");
    int (*sign)(void *, signature *, const unsigned char *, const unsigned char *, void *, void *) = dlsym(secp, "secp256k1_ecdsa_sign");
    int (*verify)(void *, const signature *, const unsigned char *, const pubkey *) = dlsym(secp, "secp256k1_ecdsa_verify");
    int (*ecdh)(void *, unsigned char *, const pubkey *, const unsigned char *, void *, void *) = dlsym(secp, "secp256k1_ecdh");
    void *ctx = ctx_create(1 | (1 << 8) | (1 << 9));
    unsigned char sk[32], msg[32], out[65];
    memset(sk, 3, sizeof sk);
    memset(msg, 5, sizeof msg);
    pubkey pk;
    signature sig;
    size_t len = 33;
    pk_create(ctx, &pk, sk);
    pk_serialize(ctx, out, &len, &pk, (1 << 1) | (1 << 8));
    unsigned char compressed[33];
    memcpy(compressed, out, 33);
    sign(ctx, &sig, msg, sk, NULL, NULL);
    TIME("secp256k1 parse compressed key", pk_parse(ctx, &pk, compressed, 33));
    TIME("secp256k1 verify", verify(ctx, &sig, msg, &pk));
    TIME("secp256k1 sign", sign(ctx, &sig, msg, sk, NULL, NULL));
    TIME("secp256k1 public key of a secret", pk_create(ctx, &pk, sk));
    TIME("secp256k1 ECDH", ecdh(ctx, out, &pk, sk, NULL, NULL));

    int (*sodium_init)(void) = dlsym(sodium, "sodium_init");
    int (*x25519)(unsigned char *, const unsigned char *, const unsigned char *) = dlsym(sodium, "crypto_scalarmult_curve25519");
    int (*x25519_base)(unsigned char *, const unsigned char *) = dlsym(sodium, "crypto_scalarmult_curve25519_base");
    sodium_init();
    unsigned char xpriv[32], xpub[32];
    memset(xpriv, 7, sizeof xpriv);
    x25519_base(xpub, xpriv);
    TIME("X25519 libsodium (variable base)", x25519(out, xpriv, xpub));
    TIME("X25519 libsodium (fixed base)", x25519_base(out, xpriv));
    TIME("X25519 OpenSSL EVP (variable base)", {
        EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, xpriv, 32);
        EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, xpub, 32);
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
        size_t l = 32;
        EVP_PKEY_derive_init(c);
        EVP_PKEY_derive_set_peer(c, p);
        EVP_PKEY_derive(c, out, &l);
        EVP_PKEY_CTX_free(c);
        EVP_PKEY_free(k);
        EVP_PKEY_free(p);
    });
    TIME("X25519 OpenSSL EVP (fixed base)", {
        EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, xpriv, 32);
        size_t l = 32;
        EVP_PKEY_get_raw_public_key(k, out, &l);
        EVP_PKEY_free(k);
    });
    return 0;
}
