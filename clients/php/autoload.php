<?php

declare(strict_types=1);

// The client without Composer: require this file. It maps the namespace
// Orbit\Client to src/ as composer.json's PSR-4 entry does.
spl_autoload_register(static function (string $class): void {
    $prefix = 'Orbit\\Client\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
