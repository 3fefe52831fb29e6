"""Deploying the app (host-only): `icchat up | down | status` on the local replica and `icchat
deploy --app` on mainnet or any replica, through the same steps.

    from icchat.stack.up import UpOptions, up
    info = up(UpOptions(model="tiny"))      # start the replica, deploy the app on it; idempotent
    print(info.page_url)

One module per concern: `app` (the app deploy, the same on every network), `up` (the local stack:
the replica plus the app deploy), `replica_process` (the background replica), `install` (install
or upgrade a module), `canister_settings` (freezing threshold, memory limit), `inference_policy`
(the gpt2 canister's policy and its worst case), `models` (which bundle runs) and `costs` (what a
deploy costs on mainnet). The folders a deploy uploads are icchat.build.site; the upload itself,
the networks and canister_ids.json are icchat.deploy. The local replica is for development only.
"""
