//! Connection commands through the real binary: HELLO, AUTH, RESET, PING/ECHO/SELECT/QUIT and CLIENT.

mod common;
mod raw;

use std::time::{Duration, Instant};

use common::{cmd, err, Server};
use raw::{bulk, int, Raw};
use redis::Value;

#[test]
fn ping_echo_select_quit() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(bulk(&cmd(&mut c, &["PING"]).unwrap()), "PONG");
    assert_eq!(bulk(&cmd(&mut c, &["ping", "hi"]).unwrap()), "hi");
    assert_eq!(
        err(&mut c, &["PING", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
    assert_eq!(bulk(&cmd(&mut c, &["ECHO", "x y"]).unwrap()), "x y");
    assert_eq!(cmd(&mut c, &["SELECT", "0"]).unwrap(), Value::Okay);
    assert_eq!(
        err(&mut c, &["SELECT", "1"]),
        "ERR DB index is out of range"
    );
    let mut raw = Raw::new(&s);
    assert_eq!(raw.call(&["QUIT"]), "+OK\r\n");
    assert!(raw.closed());
}

#[test]
fn hello_switches_protocol_and_replies_a_map() {
    let s = Server::start();
    let mut raw = Raw::new(&s);
    let id = raw.call(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end();
    let r3 = raw.call(&["HELLO", "3"]);
    let expected = format!(
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n\
         $2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
         $7\r\nmodules\r\n*0\r\n"
    );
    assert_eq!(r3, expected);
    // RESP3 shapes from now on: a null, a verbatim string.
    assert_eq!(raw.call(&["CLIENT", "GETNAME"]), "_\r\n");
    let info = raw.call(&["CLIENT", "INFO"]);
    assert!(
        info.starts_with('=') && info[1..].contains("\r\ntxt:id="),
        "{info}"
    );
    // HELLO without a version keeps the protocol.
    assert!(raw.call(&["HELLO"]).contains("$5\r\nproto\r\n:3\r\n"));
    let r2 = raw.call(&["HELLO", "2", "SETNAME", "conn-a"]);
    assert!(r2.starts_with("*14\r\n$6\r\nserver\r\n"), "{r2}");
    assert!(r2.contains("$5\r\nproto\r\n:2\r\n"));
    assert_eq!(raw.call(&["CLIENT", "GETNAME"]), "$6\r\nconn-a\r\n");
    assert_eq!(raw.call(&["CLIENT", "INFO"]).as_bytes()[0], b'$');
}

#[test]
fn hello_errors() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        err(&mut c, &["HELLO", "4"]),
        "NOPROTO unsupported protocol version"
    );
    assert_eq!(
        err(&mut c, &["HELLO", "1"]),
        "NOPROTO unsupported protocol version"
    );
    assert_eq!(
        err(&mut c, &["HELLO", "abc"]),
        "ERR Protocol version is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["HELLO", "3", "foo"]),
        "ERR Syntax error in HELLO option 'foo'"
    );
    assert_eq!(
        err(&mut c, &["HELLO", "3", "AUTH", "default"]),
        "ERR Syntax error in HELLO option 'AUTH'"
    );
    assert_eq!(
        err(&mut c, &["HELLO", "2", "SETNAME"]),
        "ERR Syntax error in HELLO option 'SETNAME'"
    );
    assert_eq!(
        err(&mut c, &["HELLO", "2", "SETNAME", "a b"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        err(&mut c, &["HELLO", "2", "AUTH", "bob", "x"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    // Without a password configured, the default user takes any password.
    let v = cmd(&mut c, &["HELLO", "2", "AUTH", "default", "whatever"]).unwrap();
    assert!(matches!(v, Value::Array(ref a) if a.len() == 14), "{v:?}");
}

#[test]
fn auth_without_password() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        err(&mut c, &["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. Are you sure \
         your configuration is correct?"
    );
    assert_eq!(cmd(&mut c, &["AUTH", "default", "x"]).unwrap(), Value::Okay);
    assert_eq!(
        err(&mut c, &["AUTH", "bob", "x"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(err(&mut c, &["AUTH", "a", "b", "c"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["AUTH"]),
        "ERR wrong number of arguments for 'auth' command"
    );
}

#[test]
fn requirepass_gates_commands_until_auth() {
    let s = Server::start_with(&["--requirepass", "s3cret"]);
    let mut raw = Raw::new(&s);
    assert_eq!(raw.call(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        raw.call(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        raw.call(&["HELLO", "3"]),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH \
         <user> <pass> option can be used to authenticate the client and select the RESP protocol version \
         at the same time\r\n"
    );
    assert_eq!(
        raw.call(&["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        raw.call(&["AUTH", "bob", "s3cret"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(raw.call(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(raw.call(&["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(raw.call(&["PING"]), "+PONG\r\n");
    // RESET forgets the authentication.
    assert_eq!(raw.call(&["RESET"]), "+RESET\r\n");
    assert_eq!(raw.call(&["PING"]), "-NOAUTH Authentication required.\r\n");
    // HELLO AUTH authenticates and switches protocol at once.
    let r = raw.call(&["HELLO", "3", "AUTH", "default", "s3cret"]);
    assert!(r.starts_with("%7\r\n"), "{r}");
    assert_eq!(raw.call(&["PING"]), "+PONG\r\n");
    assert_eq!(raw.call(&["AUTH", "default", "s3cret"]), "+OK\r\n");

    // The redis crate authenticates from the URL.
    let url = format!("redis://:s3cret@127.0.0.1:{}/", s.port);
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    assert_eq!(bulk(&cmd(&mut c, &["PING"]).unwrap()), "PONG");
}

#[test]
fn reset_restores_a_fresh_connection() {
    let s = Server::start();
    let mut raw = Raw::new(&s);
    raw.call(&["CLIENT", "SETNAME", "before"]);
    raw.call(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]);
    assert!(raw.call(&["HELLO", "3"]).starts_with("%7"));
    assert_eq!(raw.call(&["RESET"]), "+RESET\r\n");
    assert_eq!(raw.call(&["CLIENT", "GETNAME"]), "$-1\r\n");
    let info = raw.call(&["CLIENT", "INFO"]);
    assert!(info.starts_with('$'), "{info}");
    assert!(info.contains(" resp=2 "), "{info}");
    assert!(info.contains(" name= "), "{info}");
    // The library name describes the connection's client library and survives RESET, as in Redis 7.2.
    assert!(info.contains(" lib-name=mylib "), "{info}");
}

#[test]
fn client_id_names_info_list() {
    let s = Server::start();
    let mut a = s.client();
    let mut b = s.client();
    let ida = int(&cmd(&mut a, &["CLIENT", "ID"]).unwrap());
    let idb = int(&cmd(&mut b, &["CLIENT", "ID"]).unwrap());
    assert!(idb > ida);
    assert_eq!(cmd(&mut a, &["CLIENT", "GETNAME"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut a, &["CLIENT", "SETNAME", "alpha"]).unwrap(),
        Value::Okay
    );
    assert_eq!(bulk(&cmd(&mut a, &["CLIENT", "GETNAME"]).unwrap()), "alpha");
    for bad in ["a b", "a\nb", "é"] {
        assert_eq!(
            err(&mut a, &["CLIENT", "SETNAME", bad]),
            "ERR Client names cannot contain spaces, newlines or special characters."
        );
    }
    // An empty name removes the name.
    assert_eq!(
        cmd(&mut b, &["CLIENT", "SETNAME", "x"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut b, &["CLIENT", "SETNAME", ""]).unwrap(),
        Value::Okay
    );
    assert_eq!(cmd(&mut b, &["CLIENT", "GETNAME"]).unwrap(), Value::Nil);

    let info = bulk(&cmd(&mut a, &["CLIENT", "INFO"]).unwrap());
    assert!(info.ends_with('\n'));
    assert!(
        info.starts_with(&format!("id={ida} addr=127.0.0.1:")),
        "{info}"
    );
    for field in [
        " laddr=127.0.0.1:",
        " name=alpha ",
        " db=0 ",
        " cmd=client|info ",
        " user=default ",
        " resp=2",
    ] {
        assert!(info.contains(field), "{field} missing in {info}");
    }

    let list = bulk(&cmd(&mut a, &["CLIENT", "LIST"]).unwrap());
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with(&format!("id={ida} ")));
    assert!(lines[1].starts_with(&format!("id={idb} ")));
    assert!(lines[0].contains(" cmd=client|list "));

    let by_type = bulk(&cmd(&mut a, &["CLIENT", "LIST", "TYPE", "normal"]).unwrap());
    assert_eq!(by_type.lines().count(), 2);
    for t in ["master", "replica", "slave", "PUBSUB"] {
        assert_eq!(
            bulk(&cmd(&mut a, &["CLIENT", "LIST", "TYPE", t]).unwrap()),
            ""
        );
    }
    let ids = bulk(&cmd(&mut a, &["CLIENT", "LIST", "ID", &idb.to_string(), "99999"]).unwrap());
    assert_eq!(ids.lines().count(), 1);
    assert!(ids.starts_with(&format!("id={idb} ")));

    assert_eq!(
        err(&mut a, &["CLIENT", "LIST", "TYPE", "foo"]),
        "ERR Unknown client type 'foo'"
    );
    assert_eq!(
        err(&mut a, &["CLIENT", "LIST", "ID", "abc"]),
        "ERR Invalid client ID"
    );
    assert_eq!(err(&mut a, &["CLIENT", "LIST", "foo"]), "ERR syntax error");
    assert_eq!(err(&mut a, &["CLIENT", "LIST", "TYPE"]), "ERR syntax error");
    assert_eq!(
        err(&mut a, &["CLIENT", "NOPE"]),
        "ERR unknown subcommand 'NOPE'. Try CLIENT HELP."
    );
    assert_eq!(
        err(&mut a, &["CLIENT", "ID", "x"]),
        "ERR wrong number of arguments for 'client|id' command"
    );
}

#[test]
fn client_setinfo() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        cmd(&mut c, &["CLIENT", "SETINFO", "lib-name", "shoal-test"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut c, &["CLIENT", "SETINFO", "LIB-VER", "1.2.3"]).unwrap(),
        Value::Okay
    );
    let info = bulk(&cmd(&mut c, &["CLIENT", "INFO"]).unwrap());
    assert!(
        info.contains(" lib-name=shoal-test lib-ver=1.2.3"),
        "{info}"
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "SETINFO", "lib-name", "a b"]),
        "ERR lib-name cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "SETINFO", "LIB-VER", "1\n2"]),
        "ERR LIB-VER cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        err(&mut c, &["CLIENT", "SETINFO", "color", "red"]),
        "ERR Unrecognized option 'color'"
    );
}

#[test]
fn client_help() {
    let s = Server::start();
    let mut c = s.client();
    let Value::Array(lines) = cmd(&mut c, &["client", "help"]).unwrap() else {
        panic!("help is an array");
    };
    assert_eq!(
        bulk(&lines[0]),
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert_eq!(bulk(lines.last().unwrap()), "    Prints this help.");
    assert!(lines.iter().any(|l| bulk(l) == "KILL <ip:port>"));
}

fn wait_closed(raw: &mut Raw) -> bool {
    raw.r
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    raw.closed()
}

#[test]
fn client_kill_closes_other_connections() {
    let s = Server::start();
    let mut admin = s.client();
    let mut victim = Raw::new(&s);
    let vid = victim.call(&["CLIENT", "ID"]);
    let vid = vid.trim_start_matches(':').trim_end().to_string();

    // New form: replies the number killed.
    assert_eq!(
        int(&cmd(&mut admin, &["CLIENT", "KILL", "ID", &vid]).unwrap()),
        1
    );
    assert!(wait_closed(&mut victim));
    let list = bulk(&cmd(&mut admin, &["CLIENT", "LIST"]).unwrap());
    assert!(!list.contains(&format!("id={vid} ")), "{list}");
    assert_eq!(
        int(&cmd(&mut admin, &["CLIENT", "KILL", "ID", &vid]).unwrap()),
        0
    );

    // Old form, by address: +OK, or an error when nobody matches.
    let mut victim = Raw::new(&s);
    // A reply proves the server has registered the connection.
    assert_eq!(victim.call(&["PING"]), "+PONG\r\n");
    let addr = victim.r.get_ref().local_addr().unwrap().to_string();
    assert_eq!(
        cmd(&mut admin, &["CLIENT", "KILL", &addr]).unwrap(),
        Value::Okay
    );
    assert!(wait_closed(&mut victim));
    assert_eq!(
        err(&mut admin, &["CLIENT", "KILL", &addr]),
        "ERR No such client"
    );

    // ADDR and LADDR filters; SKIPME defaults to yes.
    let mut victim = Raw::new(&s);
    assert_eq!(victim.call(&["PING"]), "+PONG\r\n");
    let laddr = victim.r.get_ref().peer_addr().unwrap().to_string();
    let addr = victim.r.get_ref().local_addr().unwrap().to_string();
    assert_eq!(
        int(&cmd(
            &mut admin,
            &["CLIENT", "KILL", "ADDR", &addr, "LADDR", &laddr]
        )
        .unwrap()),
        1
    );
    assert!(wait_closed(&mut victim));

    // TYPE normal and USER default match everyone but the caller.
    let mut v1 = Raw::new(&s);
    let mut v2 = Raw::new(&s);
    v1.call(&["PING"]);
    v2.call(&["PING"]);
    assert_eq!(
        int(&cmd(
            &mut admin,
            &["CLIENT", "KILL", "TYPE", "normal", "USER", "default"]
        )
        .unwrap()),
        2
    );
    assert!(wait_closed(&mut v1));
    assert!(wait_closed(&mut v2));
    assert_eq!(bulk(&cmd(&mut admin, &["PING"]).unwrap()), "PONG");
    assert_eq!(
        int(&cmd(&mut admin, &["CLIENT", "KILL", "TYPE", "master"]).unwrap()),
        0
    );
}

#[test]
fn client_kill_self_and_errors() {
    let s = Server::start();
    let mut c = s.client();
    for (args, e) in [
        (
            &["CLIENT", "KILL", "ID", "0"][..],
            "ERR client-id should be greater than 0",
        ),
        (
            &["CLIENT", "KILL", "ID", "x"][..],
            "ERR client-id should be greater than 0",
        ),
        (
            &["CLIENT", "KILL", "TYPE", "foo"][..],
            "ERR Unknown client type 'foo'",
        ),
        (
            &["CLIENT", "KILL", "USER", "nobody"][..],
            "ERR No such user 'nobody'",
        ),
        (
            &["CLIENT", "KILL", "SKIPME", "maybe"][..],
            "ERR syntax error",
        ),
        (&["CLIENT", "KILL", "foo", "bar"][..], "ERR syntax error"),
        (
            &["CLIENT", "KILL", "ID", "1", "TYPE"][..],
            "ERR syntax error",
        ),
        (
            &["CLIENT", "KILL"][..],
            "ERR wrong number of arguments for 'client|kill' command",
        ),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
    // With SKIPME no the caller gets its reply, then is disconnected.
    let mut me = Raw::new(&s);
    let id = me.call(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end().to_string();
    assert_eq!(
        me.call(&["CLIENT", "KILL", "ID", &id, "SKIPME", "no"]),
        ":1\r\n"
    );
    assert!(wait_closed(&mut me));
    // By default the caller is skipped.
    let mut me = Raw::new(&s);
    let id = me.call(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end().to_string();
    assert_eq!(me.call(&["CLIENT", "KILL", "ID", &id]), ":0\r\n");
    assert_eq!(me.call(&["PING"]), "+PONG\r\n");
}

#[test]
fn killed_client_is_gone_promptly() {
    let s = Server::start();
    let mut admin = s.client();
    let mut victim = s.client();
    let vid = int(&cmd(&mut victim, &["CLIENT", "ID"]).unwrap());
    assert_eq!(
        int(&cmd(&mut admin, &["CLIENT", "KILL", "ID", &vid.to_string()]).unwrap()),
        1
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // The redis crate reports the closed connection as an I/O error.
        if cmd(&mut victim, &["PING"]).is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "victim still served");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn field(line: &str, name: &str) -> u64 {
    let key = format!(" {name}=");
    let at = line
        .find(&key)
        .unwrap_or_else(|| panic!("{name} in {line}"))
        + key.len();
    line[at..]
        .split(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {line}"))
}

#[test]
fn client_list_query_buffer_fields() {
    let s = Server::start();
    let mut a = s.client();
    // As in Redis, the running command is still in the query buffer: `*2\r\n$6\r\nclient\r\n$4\r\ninfo\r\n`.
    let info = bulk(&cmd(&mut a, &["CLIENT", "INFO"]).unwrap());
    assert_eq!(field(&info, "qbuf"), 26, "{info}");
    let mut b = s.client();
    cmd(&mut b, &["CLIENT", "SETNAME", "b"]).unwrap();
    let line = |a: &mut redis::Connection| {
        let list = bulk(&cmd(a, &["CLIENT", "LIST"]).unwrap());
        list.lines()
            .find(|l| l.contains(" name=b "))
            .expect("client b listed")
            .to_string()
    };
    // After a read the buffer holds at least one read's worth, and is released once the client idles.
    let busy = line(&mut a);
    let held = field(&busy, "qbuf") + field(&busy, "qbuf-free");
    assert!((16384..32768).contains(&held), "{busy}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let idle = line(&mut a);
        if field(&idle, "qbuf") + field(&idle, "qbuf-free") == 0 {
            assert!(field(&idle, "idle") >= 2, "{idle}");
            break;
        }
        assert!(Instant::now() < deadline, "not released: {idle}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn unauthenticated_clients_get_small_protocol_limits() {
    use std::io::Write;
    let s = Server::start_with(&["--requirepass", "pw"]);
    for (request, error) in [
        (&b"*100\r\n"[..], "unauthenticated multibulk length"),
        (b"*1\r\n$100000000\r\n", "unauthenticated bulk length"),
    ] {
        let mut raw = Raw::new(&s);
        raw.r.get_mut().write_all(request).unwrap();
        assert_eq!(raw.reply(), format!("-ERR Protocol error: {error}\r\n"));
        assert!(raw.closed());
    }
    // Pipelined after a successful AUTH, the same request is parsed with the normal limits.
    let mut raw = Raw::new(&s);
    let mut req = b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*11\r\n$4\r\nMSET\r\n".to_vec();
    for i in 0..5 {
        req.extend_from_slice(format!("$2\r\nk{i}\r\n$1\r\nv\r\n").as_bytes());
    }
    req.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$2\r\nk4\r\n");
    raw.r.get_mut().write_all(&req).unwrap();
    assert_eq!(raw.reply(), "+OK\r\n");
    assert_eq!(raw.reply(), "+OK\r\n");
    assert_eq!(raw.reply(), "$1\r\nv\r\n");
    // A count of 11 is over the unauthenticated limit of 10: an AUTH that fails keeps the limit.
    let mut raw = Raw::new(&s);
    let mut req = b"*2\r\n$4\r\nAUTH\r\n$2\r\nno\r\n*11\r\n".to_vec();
    req.extend_from_slice(b"$4\r\nMSET\r\n");
    raw.r.get_mut().write_all(&req).unwrap();
    assert!(raw.reply().starts_with("-WRONGPASS"));
    assert_eq!(
        raw.reply(),
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
}
